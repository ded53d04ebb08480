FROM busybox
ENV A=1 B=$A C=${A}x D="${A} ${B}" E='$A'
ENV F=a\ b G=\$A
ENV PATH=/opt/bin:$PATH
ENV EMPTY=
ENV LEGACY some value with spaces
