package docker

test_another_file if {
	decision.allow with input as {"git": {"tagName": "v1"}}
}

# not a test: it has an argument
test_with_arg(x) := x
