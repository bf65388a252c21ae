// Placeholder entry point so the solution builds until the silo host lands.
return 0;
