"""Project tools: the build checks (runtime interpreter, bytecode, artifact check) and the smoke
test of a running stack (`python -m tools.smoke`)."""
