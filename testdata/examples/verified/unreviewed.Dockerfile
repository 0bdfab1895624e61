# syntax=127.0.0.1:5000/verified-frontend
# The same build with a base image the policy has not reviewed: it is denied before anything
# runs. Built with --opt filename=unreviewed.Dockerfile --opt policy=Dockerfile.rego.
FROM 127.0.0.1:5000/tools:1
COPY message.txt /data/message.txt
