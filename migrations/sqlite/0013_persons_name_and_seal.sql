-- The persons projection keeps each case's name (issue 30: officers search by it), the notice's
-- explanation (decision 22) and an appeal's resolution time, and every row is sealed with the
-- read-model key (issue 29). Rows folded before have none of these, so the projection is folded
-- afresh from the events: its rows go and its cursor returns to the start; the next catch-up
-- rebuilds it. Derived data only: no event is touched.
DELETE FROM projection_rows WHERE projection = 'persons';
UPDATE projection_cursors SET next_seq = 0 WHERE projection = 'persons';
