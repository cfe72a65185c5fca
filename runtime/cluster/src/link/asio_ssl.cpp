// Asio's SSL implementation, compiled once (BOOST_ASIO_SEPARATE_COMPILATION,
// as fsd/asio.cpp does for the rest of Asio), apart from it so that only
// what uses TLS links with OpenSSL.
#include <boost/asio/ssl/impl/src.hpp>
