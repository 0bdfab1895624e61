# Downloads must carry a detached OpenPGP signature by "signer". The test copies the
# throwaway key the rig minted (signer.asc) and one of the rig's signatures over the
# served file (as hello.txt.asc) beside this file.
package docker

default allow := false

allow if input.local

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

allow if verify_http_pgp_signature(input.http, "hello.txt.asc", "signer.asc")

deny_msg contains msg if {
	input.http
	not allow
	msg := sprintf("%s is not signed by the release key", [input.http.url])
}

decision := {"allow": allow, "deny_msg": deny_msg}
