-- ptrack patch: `record_insert.sql` with the topition's id given, not joined from cluster,
-- topic and partition for every record. A single-row insert also needs no statement
-- journal (the insert ... select did).

insert into record
(topition, offset_id, attributes, producer_id, producer_epoch, timestamp, k, v)
values ($1, $2, $3, $4, $5, $6, $7, $8);
