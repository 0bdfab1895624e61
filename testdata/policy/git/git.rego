# Git sources must be the annotated tag v1 of hello.git, tagged by Tester, at a commit
# whose message is "v1". Everything else that is not git is allowed.
package docker

default allow := false

allow if not input.git

allow if {
	input.git.remote == "git://127.0.0.1:9418/hello.git"
	input.git.tagName == "v1"
	input.git.isAnnotatedTag
	input.git.tag.tagger.name == "Tester"
	input.git.commit.message == "v1\n"
}

deny_msg contains msg if {
	input.git
	not allow
	msg := sprintf("git %s at %s is not the signed-off release tag v1", [input.git.remote, object.get(input.git, "ref", "?")])
}

decision := {"allow": allow, "deny_msg": deny_msg}
