package docker

default allow := false

allow if {
	input.git.commit.author.name == "Ann"
	not input.git.isAnnotatedTag
}

deny_msg contains "not by Ann" if input.git.commit.author.name != "Ann"

deny_msg contains "annotated tags only" if input.git.isAnnotatedTag == false

decision := {"allow": allow, "deny_msg": deny_msg}
