FROM 127.0.0.1:5000/busybox:latest AS first
FROM first AS second
