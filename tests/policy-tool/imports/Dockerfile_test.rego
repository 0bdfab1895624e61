package docker

test_context if {
	decision.allow with input as {"local": {"name": "context"}}
}

test_other if {
	not decision.allow with input as {"local": {"name": "other"}}
}
