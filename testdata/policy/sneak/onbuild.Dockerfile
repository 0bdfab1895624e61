# syntax=127.0.0.1:5000/verified-frontend
# onbuild:1 is allowed, but its ONBUILD trigger copies from tools:1
FROM 127.0.0.1:5000/onbuild:1
