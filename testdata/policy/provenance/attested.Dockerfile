# syntax=127.0.0.1:5000/verified-frontend
FROM 127.0.0.1:5000/attested:1
