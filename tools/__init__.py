"""Build helpers: the deployment runtime's interpreter, bytecode compilation, artifact checks."""
