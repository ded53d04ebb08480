FROM scratch
LABEL a=b "c d"="e f" 'g'=h
LABEL multi.line="first \
second"
LABEL com.example.vendor="ACME Incorporated" com.example.label-with-value="foo" version="1.0" description="This text illustrates \
that label-values can span multiple lines."
