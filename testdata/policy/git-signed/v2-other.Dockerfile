# syntax=127.0.0.1:5000/verified-frontend
FROM 127.0.0.1:5000/busybox:latest
ADD git://127.0.0.1:9418/hello.git#v2-other /src
