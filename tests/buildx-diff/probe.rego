package docker

# The input-document probe: allows every source, and reads every field that needs metadata,
# each by its full path (Buildx fetches only what partial evaluation leaves unknown, by
# path), so both sides fetch all there is. The frontend has no debug dump of the document
# it evaluates; the policy prints it (Buildx's own dump is read from its debug log). The
# reads feed deny_msg directly: Buildx fetches nothing for reads that reach the decision
# only through a comprehension (`[m | some m in s]`), which partial evaluation does not
# look into.

default allow := true

deny_msg contains "image.checksum" if input.image.checksum
deny_msg contains "image.createdTime" if input.image.createdTime
deny_msg contains "image.env" if input.image.env
deny_msg contains "image.labels" if input.image.labels
deny_msg contains "image.user" if input.image.user
deny_msg contains "image.volumes" if input.image.volumes
deny_msg contains "image.workingDir" if input.image.workingDir
deny_msg contains "image.hasProvenance" if input.image.hasProvenance
deny_msg contains "image.provenance" if input.image.provenance.predicateType
deny_msg contains "image.signatures" if input.image.signatures

deny_msg contains "image.provenance.materials" if {
	some m in input.image.provenance.materials
	m.image.labels
}

deny_msg contains "git.ref" if input.git.ref
deny_msg contains "git.tagName" if input.git.tagName
deny_msg contains "git.branch" if input.git.branch
deny_msg contains "git.checksum" if input.git.checksum
deny_msg contains "git.commitChecksum" if input.git.commitChecksum
deny_msg contains "git.isAnnotatedTag" if input.git.isAnnotatedTag
deny_msg contains "git.isSHA256" if input.git.isSHA256
deny_msg contains "git.commit" if input.git.commit.tree
deny_msg contains "git.tag" if input.git.tag.object

deny_msg contains "http.checksum" if input.http.checksum

decision := {"allow": allow, "deny_msg": deny_msg} if {
	print(json.marshal(input))
}
