package docker

test_local if {
	decision.allow with input as {"local": {"name": "context"}}
}

test_git_denied if {
	not decision.allow with input as {"git": {"tagName": "v2"}}
}

test_fails_with_missing_input if {
	decision.allow with input as {"git": {"tagName": "v3", "remote": "x"}}
}

test_no_input if {
	true
}
