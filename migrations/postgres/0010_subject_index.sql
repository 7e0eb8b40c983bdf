-- Which events name a subject (an IIN) that their stream does not: reads of personal data are
-- recorded many to an event (issue 17, finding 6), and a person's reads are found here. Derived
-- from the events alone and rebuilt at will; its cursor is projection_cursors 'subjects'.
CREATE TABLE subject_index (
    subject TEXT   NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (subject, seq)
);
