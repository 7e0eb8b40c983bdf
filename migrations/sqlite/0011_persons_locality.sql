-- The persons projection keeps each case's locality (issue 21: the dashboard filters by it).
-- Rows folded before this lack it, so the projection is folded afresh from the events: its rows
-- go and its cursor returns to the start; the next catch-up rebuilds it. Derived data only:
-- no event is touched.
DELETE FROM projection_rows WHERE projection = 'persons';
UPDATE projection_cursors SET next_seq = 0 WHERE projection = 'persons';
