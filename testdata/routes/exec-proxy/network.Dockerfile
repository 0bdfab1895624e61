# syntax=127.0.0.1:5000/verified-frontend
FROM 127.0.0.1:5000/busybox:latest
RUN wget -q -O /hello.txt http://127.0.0.1:8777/hello.txt
