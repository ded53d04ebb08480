FROM postgres:16
VOLUME /var/lib/postgresql/data
VOLUME ["/backups", "/logs"]
VOLUME /a /b
ENV PGDATA /var/lib/postgresql/data/pgdata
