// Package cache holds what databoard keeps so that data-api is asked as little as possible: the channel
// list and its searches, and (in time) curve chunks on data-api's bin grid, in Redis or in process.
//
// It must not import server, dashboards or stream; it reaches data-api only through package daqbuf.
package cache
