DROP INDEX users_training_xp;
DROP TABLE user_achievements;
DROP TABLE achievements;
