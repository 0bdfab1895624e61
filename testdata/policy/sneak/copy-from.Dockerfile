# syntax=127.0.0.1:5000/verified-frontend
FROM 127.0.0.1:5000/busybox:latest
COPY --from=127.0.0.1:5000/tools:1 /opt/tool.txt /tool.txt
