# syntax=127.0.0.1:5000/verified-frontend
FROM 127.0.0.1:5000/busybox:latest
RUN --mount=from=127.0.0.1:5000/tools:1,target=/mnt cat /mnt/opt/tool.txt
