# The tools image: what every devbox built on it finds in /home/user.
FROM ubuntu:22.04
ARG TOOLS_VERSION=1
RUN echo "tools $TOOLS_VERSION" > /home/user/TOOLS
