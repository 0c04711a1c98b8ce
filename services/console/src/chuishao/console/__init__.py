"""The console (工作台): server-rendered screens for clerks, command centres and admins."""
