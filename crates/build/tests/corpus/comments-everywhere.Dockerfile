# A leading comment
# another one

FROM alpine
   # indented comment
RUN echo one \
    # comment inside a continuation
    two
     
ENV X=1
# trailing comment
