# syntax=127.0.0.1:5000/verified-frontend
FROM 127.0.0.1:5000/busybox:latest
RUN --network=none echo offline > /offline.txt
