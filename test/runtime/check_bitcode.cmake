#===- test/runtime/check_bitcode.cmake - sanity of the runtime bitcode ----===#
# cmake -DLLVM_DIS=... -DBITCODE_DIR=... -P check_bitcode.cmake
# Each cnnc_rt_<family>.bc disassembles, targets its family, defines the
# runtime's entry points and halide_error, and calls neither abort nor exit;
# the pool's hook is weak and its shutdown a destructor.
file(GLOB bcs ${BITCODE_DIR}/cnnc_rt_*.bc)
if(NOT bcs)
  message(FATAL_ERROR "no cnnc_rt_*.bc in ${BITCODE_DIR}")
endif()
foreach(bc ${bcs})
  execute_process(COMMAND ${LLVM_DIS} ${bc} -o - OUTPUT_VARIABLE ll RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${bc}: llvm-dis failed")
  endif()
  get_filename_component(name ${bc} NAME_WE)
  string(REPLACE "cnnc_rt_" "" family ${name})
  if(NOT ll MATCHES "target triple = \"${family}-")
    message(FATAL_ERROR "${bc}: not a ${family} module")
  endif()
  foreach(fn cnnc_rt_create cnnc_rt_run cnnc_rt_infer_ptrs cnnc_rt_get_api
             cnnc_rt_save_params cnnc_rt_load_params halide_error)
    if(NOT ll MATCHES "define [^\n]*@${fn}\\(")
      message(FATAL_ERROR "${bc}: ${fn} is not defined")
    endif()
  endforeach()
  foreach(fn abort exit _exit __assert_fail)
    if(ll MATCHES "@${fn}\\(")
      message(FATAL_ERROR "${bc}: calls ${fn}")
    endif()
  endforeach()
  # The thread pool's hook into Halide's runtime, which the runtime's own
  # tests link without.
  if(NOT ll MATCHES "extern_weak[^\n]*@halide_set_custom_do_par_for")
    message(FATAL_ERROR "${bc}: halide_set_custom_do_par_for is not a weak reference")
  endif()
  # The pool's shutdown runs at dlclose: a destructor.
  if(NOT ll MATCHES "@llvm.global_dtors[^\n]*@pool_shutdown")
    message(FATAL_ERROR "${bc}: the thread pool's shutdown is not a destructor")
  endif()
  message(STATUS "${bc}: ok")
endforeach()
