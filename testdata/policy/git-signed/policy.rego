# Git sources must be tags signed by "signer": OpenPGP (signer.asc) or SSH (signer.pub).
# The test copies the throwaway public keys the rig minted beside this file.
package docker

default allow := false

allow if not input.git

allow if {
	input.git.tag.pgpSignature
	verify_git_signature(input.git.tag, "signer.asc")
}

allow if {
	input.git.tag.sshSignature
	verify_git_signature(input.git.tag, "signer.pub")
}

deny_msg contains msg if {
	input.git
	not allow
	msg := sprintf("%s is not a tag signed by the release key", [object.get(input.git, "ref", input.git.remote)])
}

decision := {"allow": allow, "deny_msg": deny_msg}
