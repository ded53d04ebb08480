from alpine:3.20 as Base
run echo lower
env a=b
copy . /x
cmd ["sh"]
