FROM nginx:1.27-alpine
COPY nginx.conf /etc/nginx/nginx.conf
COPY --chmod=0644 site/ /usr/share/nginx/html/
EXPOSE 80 443
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
