DROP TABLE contribution_totals;
DROP TABLE contribution_days;
DROP TABLE tests;
DROP TABLE bugs;
