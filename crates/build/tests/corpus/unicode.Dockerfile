FROM alpine
LABEL description="Ünïcödé ✓"
RUN echo "こんにちは" > /greeting
ENV GREETING=¡hola!
