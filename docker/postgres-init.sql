-- Second database on the same server: the milestones ledger lives apart from Airflow's metadata.
CREATE USER milestones WITH PASSWORD :'milestones_password';
CREATE DATABASE milestones OWNER milestones;
