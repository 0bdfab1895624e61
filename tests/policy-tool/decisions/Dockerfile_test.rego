package docker

test_ann if {
	decision.allow with input as {"git": {"commit": {"author": {"name": "Ann"}}}}
}

test_bob if {
	decision.allow with input as {"git": {"commit": {"author": {"name": "Bob"}}, "isAnnotatedTag": false}}
}

test_bob_denied if {
	not decision.allow with input as {"git": {"commit": {"author": {"name": "Bob"}}}}
}

test_deny_messages if {
	d := decision with input as {"git": {"commit": {"author": {"name": "Bob"}}}}
	d.deny_msg == {"not by Ann"}
}
