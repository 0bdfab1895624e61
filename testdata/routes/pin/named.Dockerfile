# syntax=127.0.0.1:5000/verified-frontend
FROM base
RUN { env | sort; echo "uid=$(id -u)"; echo "pwd=$(pwd)"; } > /out/run.txt
