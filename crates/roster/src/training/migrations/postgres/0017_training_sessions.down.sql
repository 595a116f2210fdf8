DROP TABLE training_totals;
DROP TABLE performance_metrics;
DROP TABLE chat_messages;
DROP TABLE training_sessions;
