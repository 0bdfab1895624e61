# Git sources must be annotated tags signed by a release key (OpenPGP keys in
# release-keys.asc beside this policy, or SSH keys in release-keys.pub).
package docker

default allow := false

allow if not input.git

allow if {
	input.git.isAnnotatedTag
	input.git.tag.pgpSignature
	verify_git_signature(input.git.tag, "release-keys.asc")
}

allow if {
	input.git.isAnnotatedTag
	input.git.tag.sshSignature
	verify_git_signature(input.git.tag, "release-keys.pub")
}

deny_msg contains msg if {
	input.git
	not allow
	msg := sprintf("%s %s is not a tag signed by a release key", [input.git.remote, object.get(input.git, "ref", "")])
}

decision := {"allow": allow, "deny_msg": deny_msg}
