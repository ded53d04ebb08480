FROM scratch
ADD hello /
CMD ["/hello"]
