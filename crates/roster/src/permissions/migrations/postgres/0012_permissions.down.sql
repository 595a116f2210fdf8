DROP TABLE agent_permissions;
DROP TABLE agents;
