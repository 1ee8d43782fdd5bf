"""tfpipe's commands, one module each: `register(commands)` adds its parser and sets its handler,
`run(args)` calls the library and prints. The entry point, tfpipe/cli.py, lists them."""
