/* `framecast token`: mints an HS256 JSON Web Token for operators, signed
 * with the secret the server reads with --auth-secret-file. Main thread. */
#ifndef FC_APP_TOKEN_H
#define FC_APP_TOKEN_H

/* Runs the subcommand; argv[0] is "token". Prints the token and a newline
 * on stdout. Returns the exit status: 0, or 2 for bad arguments or a bad
 * secret file (the message on stderr names it). */
int fc_token_main(int argc, char **argv);

#endif
