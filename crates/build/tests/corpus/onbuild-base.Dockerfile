FROM python:3.11
ONBUILD COPY requirements.txt /app/
ONBUILD RUN pip install -r /app/requirements.txt
ONBUILD ADD . /app
ONBUILD WORKDIR /app
ONBUILD ENV A=1
