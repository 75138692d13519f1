-- ptrack patch: `watermark_select_no_update.sql` that also returns the topition's id,
-- for `record_insert_by_topition.sql`.

select

w.low, w.high, tp.id

from

cluster c
join topic t on t.cluster = c.id
join topition tp on tp.topic = t.id
join watermark w on w.topition = tp.id

where

c.name = $1
and t.name = $2
and tp.partition = $3;
