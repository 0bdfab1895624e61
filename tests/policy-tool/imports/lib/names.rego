package lib.names

allowed := {"context", "extra"}
