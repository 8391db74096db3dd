// schemahostd: everything real lives in schemahostd_core (see app.cpp).
#include "app.hpp"

#include <iostream>

#include <unistd.h>

int main(int argc, char **argv)
{
    const std::vector<std::string> args(argv + 1, argv + argc);
    return schemahostd::run_app(args, schemahostd::environment_from(environ),
                                schemahostd::read_file_contents, std::cout, std::cerr);
}
