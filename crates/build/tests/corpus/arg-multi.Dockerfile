FROM alpine
ARG A=1 B C=3
ARG D="quoted value"
RUN echo $A $B $C $D
