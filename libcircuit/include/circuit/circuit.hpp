// circuit.hpp — libcircuit: a distributed program in C++ that reads like a
// single-process one. See libcircuit(3).
#pragma once

#include "circuit/chan.hpp"
#include "circuit/errors.hpp"
#include "circuit/runtime.hpp"
#include "circuit/spawn.hpp"
#include "circuit/go.hpp"
