"""Operations over HTTP and the command line: requests in, plain answers out."""
